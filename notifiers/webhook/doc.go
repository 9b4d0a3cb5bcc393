// Package webhook is the outgoing HTTP webhook channel: it sends each
// delivery as one POST (or PUT, PATCH) request to the configured
// receiver, with a webhook-id header receivers can dedupe on and, when a
// signing secret is set, Standard Webhooks signature headers.
//
// It owns the channel's `http:` configuration block (Config, its
// validation, and the split of the URL into the fixed scheme and host and
// the templated path and query) and the HTTP client that sends requests.
// It does not render templates: the router renders the body, content
// type, path and templated headers once into notifiers.Parts. It does not
// retry either: Notify classifies each failure (see notifiers.Notifier)
// and the delivery workers decide.
//
// The host always comes from the configuration, never from a message, and
// redirects are never followed, so a message cannot steer a request to
// another address.
package webhook
