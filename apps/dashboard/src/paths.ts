/** Where bull-board is mounted (the path the seed used). */
export const BOARD_PATH = '/admin/queues';

/** bull-board's JSON API, under {@link BOARD_PATH}. */
export const BOARD_API_PATH = `${BOARD_PATH}/api/`;

/** bull-board's page for one queue. */
export function boardQueueUrl(queue: string): string {
  return `${BOARD_PATH}/queue/${encodeURIComponent(queue)}`;
}

export const LOGIN_PATH = '/login';
export const LOGOUT_PATH = '/logout';
