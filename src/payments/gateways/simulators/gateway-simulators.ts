/**
 * Both gateway simulators on one local HTTP server: eSewa under `/esewa`, Khalti under
 * `/khalti`. For tests and for development (`npm start` can start it): nothing leaves the
 * machine. The control API has no authentication, so it listens on loopback by default.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { esewaEndpoints, type EsewaEndpoints } from '../esewa.ts';
import { createEsewaSimulator, type EsewaSimulator, type EsewaSimulatorOptions } from './esewa-simulator.ts';
import { createKhaltiSimulator, type KhaltiSimulator, type KhaltiSimulatorOptions } from './khalti-simulator.ts';

export interface GatewaySimulatorsOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  esewa?: EsewaSimulatorOptions;
  khalti?: KhaltiSimulatorOptions;
}

export interface GatewaySimulators {
  /** eSewa's simulated host: its form at `api/epay/main/v2/form`, its status API at `api/epay/transaction/status/`. */
  esewaBaseUrl: string;
  /** The eSewa endpoints under `esewaBaseUrl`, for the adapter. */
  esewaEndpoints: EsewaEndpoints;
  /** Khalti's API base (`.../api/v2/`), for the adapter. */
  khaltiBaseUrl: string;
  esewa: EsewaSimulator;
  khalti: KhaltiSimulator;
  close(): Promise<void>;
}

export async function startGatewaySimulators(options: GatewaySimulatorsOptions = {}): Promise<GatewaySimulators> {
  const esewa = createEsewaSimulator(options.esewa);
  const khalti = createKhaltiSimulator(options.khalti);
  const app = express();
  app.disable('x-powered-by');
  app.use('/esewa', esewa.router);
  app.use('/khalti', khalti.router);
  // A body that is not JSON or a form: the answer Django REST framework (Khalti) gives.
  app.use((error: unknown, _request: Request, response: Response, next: NextFunction) => {
    if (response.headersSent) {
      next(error);
      return;
    }
    const status = typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number' ? error.status : 500;
    response.status(status).json({ detail: status === 400 ? 'JSON parse error.' : 'Server error.' });
  });
  const host = options.host ?? '127.0.0.1';
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(options.port ?? 0, host, (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${String(port)}`;
  return {
    esewaBaseUrl: `${origin}/esewa/`,
    esewaEndpoints: esewaEndpoints(`${origin}/esewa/`),
    khaltiBaseUrl: `${origin}/khalti/api/v2/`,
    esewa,
    khalti,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
