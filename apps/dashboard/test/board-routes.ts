import { appRoutes } from '@bull-board/api/dist/routes.js';
import { BOARD_PATH } from '../src/paths.js';

export interface BoardRoute {
  method: string;
  /** The route pattern, e.g. `/admin/queues/api/queues/:queueName/pause`. */
  pattern: string;
  /** A concrete URL for it. */
  url: string;
}

const asArray = <T>(value: T | T[]) => (Array.isArray(value) ? value : [value]);

/**
 * Every route bull-board serves, straight from bull-board's own route table
 * (so a route added by an upgrade is tested too), with the parameters filled in.
 */
export function boardRoutes(params: { queueName: string; jobId: string }): BoardRoute[] {
  const fill = (pattern: string) =>
    pattern
      .replace(':queueName', encodeURIComponent(params.queueName))
      .replace(':jobId', encodeURIComponent(params.jobId))
      .replace(':queueStatus', 'failed')
      .replace(':schedulerId', 'some-scheduler');
  const routes: BoardRoute[] = [];
  for (const route of [appRoutes.entryPoint, ...appRoutes.api]) {
    for (const method of asArray(route.method)) {
      for (const path of asArray(route.route)) {
        const pattern = `${BOARD_PATH}${path === '/' ? '' : path}`;
        routes.push({ method: method.toUpperCase(), pattern, url: fill(pattern) });
      }
    }
  }
  routes.push({ method: 'GET', pattern: `${BOARD_PATH}/static/*`, url: `${BOARD_PATH}/static/favicon.ico` });
  return routes;
}

/** The routes that change something: every method but GET. */
export const mutatingRoutes = (params: { queueName: string; jobId: string }) =>
  boardRoutes(params).filter((r) => r.method !== 'GET');
