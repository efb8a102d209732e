/** CloudWatch namespace of the pipeline's own (EMF) metrics; the dashboard reads the same one. */
export const METRICS_NAMESPACE = 'KafkaMergePipeline';
