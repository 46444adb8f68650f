import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { createDocument } from 'zod-openapi';
import type { RouteRegistry } from './http/route.ts';

/** The OpenAPI 3.1 description generated from the routes' zod schemas. */
export function openApiDocument(registry: RouteRegistry): ReturnType<typeof createDocument> {
  return createDocument({
    openapi: '3.1.0',
    info: { title: 'Sadasya membership API', version: '1.0.0', description: 'JSON:API documents; errors carry a stable code and a source pointer.' },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        platformKey: { type: 'http', scheme: 'bearer', description: 'PLATFORM_ADMIN_KEY' },
      },
    },
    security: [{ bearer: [] }],
    paths: registry.paths(),
  });
}

/** `/openapi.json` and Swagger UI at `/docs`. */
export function docsRoutes(registry: RouteRegistry): Router {
  const document = openApiDocument(registry);
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  router.use('/docs', swaggerUi.serve, swaggerUi.setup(document));
  return router;
}
