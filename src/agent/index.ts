// The agent on a hypervisor host (`vmbak agent`): takes its host's jobs from the controller's
// queues and runs them with the engine, writing straight to the targets.
export { Agent, type AgentOptions, type AgentLog } from './agent.ts';
export { ControllerClient } from './controller-client.ts';
