/**
 * casbin policy rows for bench/peers/casbin/model.conf (added through the API: the conditions
 * contain commas, which casbin's CSV adapter would split).
 * `single`: payment-read only; `guarded`: with the guardrails that apply to a read.
 */
export const PAYMENT_READ = ['payment-support', 'uon://payments/payment/*', 'read', 'r.sub.region == r.obj.customer_region', 'allow'];
export const GUARDRAILS = [
  ['*', '*', '*', 'r.sub.suspended == true', 'deny'],
  ['*', 'uon://payments/*', '*', 'r.env.country != "" && r.env.country != r.sub.country', 'deny'],
];
export const GROUPINGS = [['spiffe://personnel.acme.test/eid/1001', 'payment-support']];
