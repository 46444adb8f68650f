import type { ApiDeps } from '../deps.ts';
import type { RouteRegistry } from '../http/route.ts';
import { approvalRoutes } from './approval-routes.ts';
import { applicantDataRoutes } from './applicant-data-routes.ts';
import { historyRoutes } from './history-routes.ts';
import { memberRoutes } from './member-routes.ts';
import { registrationRoutes } from './registration-routes.ts';
import { transferRoutes } from '../transfers/routes.ts';
import { renewalRoutes } from './renewal-routes.ts';
import { statusChangeRoutes } from './status-change-routes.ts';
import { statusLinkRoutes } from './status-link-routes.ts';

export function membersFeature(registry: RouteRegistry, deps: ApiDeps): void {
  registrationRoutes(registry, deps);
  statusLinkRoutes(registry, deps);
  applicantDataRoutes(registry, deps);
  memberRoutes(registry, deps);
  historyRoutes(registry, deps);
  approvalRoutes(registry, deps);
  transferRoutes(registry, deps);
  statusChangeRoutes(registry, deps);
  renewalRoutes(registry, deps);
}
