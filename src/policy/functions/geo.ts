/** Great-circle distance for location rules (haversine on a spherical Earth, mean radius). */
const EARTH_RADIUS_KM = 6371.0088;

export class InvalidCoordinateError extends Error {}

function checkCoordinate(lat: number, lon: number): void {
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
    throw new InvalidCoordinateError(`invalid coordinate (${lat}, ${lon}): latitude must be within ±90 and longitude within ±180`);
  }
}

export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  checkCoordinate(lat1, lon1);
  checkCoordinate(lat2, lon2);
  const toRad = Math.PI / 180;
  const dLat = (lat2 - lat1) * toRad;
  const dLon = (lon2 - lon1) * toRad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * toRad) * Math.cos(lat2 * toRad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}
