/** The name the default pack is reported under (its policies' locations read `default-pack:LINE`). */
export const DEFAULT_PACK_NAME = 'default-pack';

/**
 * The policies Tether runs with when none are configured. They encode what makes the device flow acceptable for an
 * organisation (see docs/policy.md, which explains every line): no device flow for unattended automation; for
 * medium- and high-tier APIs, a device bound to its key from the first request; for high-tier APIs, a managed device, a recent phishing-resistant sign-in, approval from the device's own
 * network, and tokens that live minutes. Everything else is allowed within the configured client and API limits.
 *
 * `tether policy default` prints it, as a starting point for a policy directory.
 */
export const DEFAULT_POLICY_PACK = `// Tether default policy pack. docs/policy.md explains it line by line.

// Anything not refused below is allowed, within the configured client and API limits.
@id("baseline")
permit (principal, action, resource);

// The device flow is for a person at a device. Unattended automation (CI, cron, scripts) is
// refused at every step: a person's token copied into automation outlives their intent.
@id("no-device-flow-for-automation")
@reason("The device flow is for a person at a device; automation must use its own workload identity, not a person's login.")
forbid (
  principal,
  action in [
    Tether::Action::"RequestDeviceCode",
    Tether::Action::"Approve",
    Tether::Action::"Issue",
    Tether::Action::"Refresh"
  ],
  resource
)
when { context.device.class == "automation" || context.environment == "automation" };

// Medium- and high-tier APIs: the device proves its key (DPoP) from its first request. A device code
// asked for without a proof is bound to nobody, so whoever holds it first (read off a screen, phished,
// logged) redeems it with a key of their own.
@id("sensitive-apis-need-bound-request")
@reason("This API needs a device that proves its key from the first request: send a DPoP proof to /device_authorization (the Tether CLI does).")
forbid (
  principal,
  action in [Tether::Action::"RequestDeviceCode", Tether::Action::"Approve"],
  resource
)
when { (resource.tier == "medium" || resource.tier == "high") && !context.device.bound };

// High-tier APIs only for managed devices, at every step and at the API itself.
@id("high-tier-needs-managed-device")
@reason("This API needs a managed device: enroll this device's key and have an administrator approve it.")
forbid (principal, action, resource)
when { resource.tier == "high" && context.device.class != "managed" };

// High-tier APIs need a sign-in from the last 15 minutes at the moment of approval.
@id("high-tier-needs-recent-sign-in")
@reason("This API needs a recent sign-in: sign in again, then approve.")
forbid (principal, action == Tether::Action::"Approve", resource)
when { resource.tier == "high" && context.authAgeSeconds > 900 };

// High-tier APIs need a phishing-resistant sign-in at approval: a passkey, or an upstream provider
// whose amr (or acr) the configuration maps to one (docs/sign-in.md). A password, even with a
// one-time code, can be relayed by a look-alike page.
@id("high-tier-needs-phishing-resistant-sign-in")
@reason("This API needs a phishing-resistant sign-in: sign in with a passkey or a security key, then approve.")
forbid (principal, action == Tether::Action::"Approve", resource)
when { resource.tier == "high" && !context.phishingResistant };

// High-tier APIs: approval must come from the network of the device that asked.
@id("high-tier-same-network-approval")
@reason("Approve this request from the same network as the device that asked for it; for this API, approval from elsewhere is refused.")
forbid (principal, action == Tether::Action::"Approve", resource)
when { resource.tier == "high" && !context.sameNetwork };

// High-tier APIs get minutes-long access tokens and a grant that ends an hour after approval.
@id("high-tier-short-tokens")
@ttl("5m")
@refresh_ttl("1h")
permit (
  principal,
  action in [Tether::Action::"Issue", Tether::Action::"Refresh"],
  resource
)
when { resource.tier == "high" };

// A workload is created by a person signed in at their own DPoP-bound device: never from automation's login
// or a plain Bearer token, so every workload leads back to a person's approval on a machine that holds its key.
@id("workloads-created-by-a-person")
@reason("A workload is created by a person signed in on their own device, not from automation or a Bearer token.")
forbid (principal, action == Tether::Action::"CreateWorkload", resource)
when { context.device.class == "automation" || !context.device.bound };
`;
