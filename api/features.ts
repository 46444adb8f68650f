import type { ApiDeps } from './app.ts';
import { authRoutes } from './auth/routes.ts';
import type { RouteRegistry } from './http/route.ts';

export type Feature = (registry: RouteRegistry, deps: ApiDeps) => void;

/** Every feature's routes, in the order they are documented. */
export const features: Feature[] = [authRoutes];
