// A Node module resolve hook that serves `ferrovec/hnswlib-node` wherever code imports
// `hnswlib-node` (the recipe the README gives users). Registered with `module.register()`.
export async function resolve(specifier, context, next) {
  if (specifier === 'hnswlib-node') {
    // Resolved from this package (self-reference), not from the importer's node_modules.
    return next('ferrovec/hnswlib-node', { ...context, parentURL: import.meta.url })
  }
  return next(specifier, context)
}
