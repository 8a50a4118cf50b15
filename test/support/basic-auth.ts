/** The `authorization` header of HTTP Basic for a credential (a client's, the admin's): what a collector or an operator sends. */
export function basicAuth(credential: { username: string; secret: string }): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.secret}`).toString('base64')}`;
}
