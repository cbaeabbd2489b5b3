// proxy-from-env (the module axios itself uses to pick a proxy) ships no type declarations.
declare module 'proxy-from-env' {
  /** The proxy URL the *_PROXY / NO_PROXY environment names for this URL, or '' for none. */
  export function getProxyForUrl(url: string | URL): string;
}
