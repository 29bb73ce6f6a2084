/** The standalone sidecar: charter.v1.Authorization answered from a local decision cache. */
export { startSidecar, type RunningSidecar, type SidecarOptions } from './sidecar.js';
export { parseSidecarArgs, sidecarUsage, type SidecarConfig, type SidecarConfigResult } from './config.js';
