import type { ApiDeps } from './deps.ts';
import { authRoutes } from './auth/routes.ts';
import { cardRoutes } from './cards/routes.ts';
import { financeRoutes } from './finance/routes.ts';
import { geographyRoutes } from './geography/routes.ts';
import type { RouteRegistry } from './http/route.ts';
import { opsRoutes } from './ops/routes.ts';
import { paymentRoutes } from './payments/routes.ts';
import { gatewayRoutes } from './payments/gateway-routes.ts';
import { invoiceRoutes } from './payments/invoice-routes.ts';
import { reconciliationRoutes } from './payments/reconciliation-routes.ts';
import { platformRoutes } from './platform/routes.ts';
import { statisticsRoutes } from './statistics/routes.ts';
import { graphqlRoutes } from './graphql/routes.ts';
import { membersFeature } from './members/routes.ts';
import { userRoutes } from './users/routes.ts';

export type Feature = (registry: RouteRegistry, deps: ApiDeps) => void;

/** Every feature's routes, in the order they are documented. */
export const features: Feature[] = [authRoutes, membersFeature, paymentRoutes, gatewayRoutes, reconciliationRoutes, invoiceRoutes, financeRoutes, cardRoutes, geographyRoutes, userRoutes, statisticsRoutes, graphqlRoutes, opsRoutes, platformRoutes];
