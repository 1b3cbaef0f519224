export { WeirHttpAgent, WeirHttpsAgent } from './agent.js';
export {
  BalancedHttpPool,
  type BalancedHttpPoolEvents,
  type BalancedHttpPoolStats,
  createBalancedHttpPool,
  type EjectEvent,
  type EndpointStats,
  type RegionStats,
  type RestoreEvent,
} from './balancer.js';
export type { BalancedHttpPoolOptions, PanicMode, Routing } from './balancer-options.js';
export type { RequestBody } from './body.js';
export {
  createHttpPool,
  HttpPool,
  type HttpPoolStats,
  type HttpRequestOptions,
} from './dispatcher.js';
export type { HttpDnsOptions, HttpLookupFunction } from './dns.js';
export { HttpError, type HttpErrorCode } from './errors.js';
export type { HttpPoolOptions, HttpTlsOptions, OriginOptions } from './options.js';
export { type Origin, originOf } from './origin.js';
export type { OriginStats } from './origin-pool.js';
export type { EndpointState, OutlierOptions } from './outlier.js';
export type {
  DownloadOptions,
  Progress,
  TransferOptions,
  TransferResult,
  UploadOptions,
} from './progress.js';
export type { HttpProxyOption } from './proxy.js';
export type { RegionChange, RegionChangeReason } from './regions.js';
export { type HttpResponse, ResponseBody } from './response.js';
