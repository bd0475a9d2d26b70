/** The Klaviyo API revision every request is sent with. Bumping it is a one-line diff. */
export const KLAVIYO_REVISION = '2026-07-15';
export const KLAVIYO_BASE_URL = 'https://a.klaviyo.com';
export const JSON_API = 'application/vnd.api+json';
