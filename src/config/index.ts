// The declarative config file (`vmbak serve --config vmbak.yaml`): YAML validated with zod
// into repositories, policies and alerts, and applied to the catalog as the config-managed
// part of it. docs/config.md documents every field.
export { configSchema, type VmbakConfig, type RepositoryConfig, type PolicyConfig, type ChannelConfig, type RuleConfig } from './config-schema.ts';
export { loadConfigFile, parseConfig, type LoadedConfig } from './load-config.ts';
export { applyConfig, type ApplyReport } from './apply-config.ts';
