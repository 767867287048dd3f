"""What every feature uses: the catalog of bundles and flows, status changes and their audit
events, outgoing messages, leases on work, retries, sealed credentials, who administers and who
approves. Nothing here imports a feature (docs/architecture.md, "Layers")."""
