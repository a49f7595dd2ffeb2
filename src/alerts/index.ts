// Alerts: events (job failed, RPO missed, verify found damage, …) routed by rules to SMTP and
// webhook channels, de-duplicated, retried with backoff, recorded in the catalog, and sent in
// the background so that raising an alert never blocks a job.
export { AlertNotifier, type NotifierOptions } from './notifier.ts';
export { webhookPayload, mailSubject, mailText, type AlertEvent, type WebhookPayload } from './alert-message.ts';
export { signBody, postWebhook, SIGNATURE_HEADER } from './webhook.ts';
export { sendMail, type Mail } from './smtp.ts';
export { withRetries, PermanentFailure, type RetryOptions, type RetryOutcome } from './retry.ts';
