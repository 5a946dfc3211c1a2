/**
 * LocalStack's endpoint for the `local` stage's API URLs (serverless.yml `custom.localstackEndpoint`):
 * AWS_ENDPOINT_URL, as serverless-localstack uses it to deploy, else LocalStack's default. The APIs
 * answer there path-style, `http://` for the REST API and @connections, `ws://` for WebSocket clients.
 */
const endpoint = () => (process.env.AWS_ENDPOINT_URL || 'http://localhost:4566').replace(/\/+$/, '');

module.exports = {
  http: () => endpoint(),
  ws: () => endpoint().replace(/^http/, 'ws'),
};
