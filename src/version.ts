/** The service's version, as package.json says (a test keeps the two equal): OpenAPI and /v2 report it. */
export const SERVICE_VERSION = '0.1.0';
