/**
 * The most bytes the producer API reads of a request body (its `bodyLimit`; a 413 past it). A campaign
 * config is a few KiB; anything near this limit is a mistake or an attack. Free of the API's
 * dependencies, so the CLI refuses a larger config file before sending it: the API answers such a
 * body before reading it and closes the connection, and a client still sending a large one may see
 * only the closed connection (EPIPE), not the 413.
 */
export const API_BODY_LIMIT_BYTES = 64 * 1024;
