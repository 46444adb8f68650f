import type { ApiDeps } from '../app.ts';
import type { RouteRegistry } from '../http/route.ts';
import { decisionRoutes } from './decision-routes.ts';
import { memberRoutes } from './member-routes.ts';
import { registrationRoutes } from './registration-routes.ts';

export function membersFeature(registry: RouteRegistry, deps: ApiDeps): void {
  registrationRoutes(registry, deps);
  memberRoutes(registry, deps);
  decisionRoutes(registry, deps);
}
