/** Who performed an action: recorded in audit and change records. */
export interface Actor {
  type: 'api_key' | 'cli' | 'system' | 'user';
  /** API key id, OS user name for the CLI, a component name for the system, or the user's id for a user's own action (self-service). */
  id: string;
  /** Role of an API key actor; null for CLI and system actors. */
  role: string | null;
  /** Correlates records with the service log line of the same request. */
  requestId: string | null;
  /** Entry point the action came through ("http_admin_api", "cli", ...). */
  entryPoint: string;
}

export const systemActor = (component: string): Actor => ({
  type: 'system',
  id: component,
  role: null,
  requestId: null,
  entryPoint: 'system',
});
