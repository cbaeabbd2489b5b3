// axios exports the helpers its own adapters use under `axios/unsafe/*` for custom adapters, without
// type declarations; these are the signatures of the ones the CXone transport uses (axios 1.x).
declare module 'axios/unsafe/core/buildFullPath.js' {
  export default function buildFullPath(
    baseURL: string | undefined,
    requestedURL: string | undefined,
    allowAbsoluteUrls?: boolean,
    config?: unknown,
  ): string;
}

declare module 'axios/unsafe/helpers/buildURL.js' {
  export default function buildURL(url: string, params?: unknown, options?: unknown): string;
}

declare module 'axios/unsafe/core/settle.js' {
  import type { AxiosResponse } from 'axios';
  /** Resolves with the response, or rejects with axios's AxiosError when validateStatus refuses it. */
  export default function settle(
    resolve: (response: AxiosResponse) => void,
    reject: (error: unknown) => void,
    response: AxiosResponse,
  ): void;
}
