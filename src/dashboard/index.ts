// weir/dashboard: a live page of every pool, channel, breaker and limiter, fed by one
// server-sent event stream, served by a request handler for node:http, Express or Fastify.
export {
  createDashboard,
  DASHBOARD_CSP,
  type Dashboard,
  type DashboardOptions,
  type NextFunction,
} from './dashboard.js';
export type {
  BreakerSource,
  ChannelSource,
  DashboardBreaker,
  DashboardChannel,
  DashboardHealth,
  DashboardLimiter,
  DashboardPool,
  DashboardSnapshot,
  DashboardSourceError,
  LimiterSource,
  PoolSource,
  Sources,
} from './snapshot.js';
