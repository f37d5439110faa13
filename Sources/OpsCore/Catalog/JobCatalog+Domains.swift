extension JobCatalog {
    static let domains: [JobKindSpec] = [
        JobKindSpec(
            "domain.add",
            "Add a domain to an environment",
            parameters: [
                CommonParams.envID,
                ParamSpec("domain_name", .text, required: true, help: "The domain, e.g. shop.example.com"),
                ParamSpec("is_wildcardless", .boolean, help: "Do not add *.domain as well"),
                ParamSpec("custom_ssl_cert", .longText, help: "A certificate of your own (PEM)"),
                ParamSpec("custom_ssl_key", .longText, secret: true, help: "Its private key (PEM; secret)"),
            ],
            call: "POST",
            "/sites/environments/{env_id}/domains",
            targets: [.environment("env_id")],
            outputs: [OutputSpec("domain_id", from: ["domain_id"], help: "The new domain")],
            settle: .domainNamed(environment: "env_id", name: "domain_name"),
            deadline: 15 * Timing.minute,
            typical: 5...120,
            subject: "domain_name",
            check: { values, _ throws(ValidationError) in
                if (values["custom_ssl_cert"] == nil) != (values["custom_ssl_key"] == nil) {
                    throw ValidationError(field: "custom_ssl_key", "custom_ssl_cert and custom_ssl_key go together")
                }
            }
        ),
        JobKindSpec(
            "domain.delete",
            "Remove domains from an environment",
            parameters: [
                CommonParams.envID,
                ParamSpec(
                    "domain_ids",
                    .list(.identifier, wrap: nil),
                    required: true,
                    help: "Domains to remove (their IDs; `kinsta-ops domains` lists them)"
                ),
            ],
            call: "DELETE",
            "/sites/environments/{env_id}/domains",
            targets: [.environment("env_id")],
            settle: .resend,
            deadline: 15 * Timing.minute,
            typical: 5...120
        ),
        JobKindSpec(
            "domain.set_primary",
            "Make a domain an environment's primary domain",
            parameters: [
                CommonParams.envID,
                ParamSpec("domain_id", .identifier, required: true, help: "The domain (its ID)"),
                ParamSpec(
                    "run_search_and_replace",
                    .boolean,
                    required: true,
                    default: true,
                    help: "Replace the old domain in the database"
                ),
            ],
            call: "PUT",
            "/sites/environments/{env_id}/change-primary-domain",
            targets: [.environment("env_id")],
            settle: .resend,
            deadline: 15 * Timing.minute,
            typical: 5...120
        ),
        JobKindSpec(
            "dns_record.create",
            "Create a DNS record of a Kinsta DNS domain",
            parameters: [dnsDomainID] + dnsRecordName + [
                ParamSpec("ttl", .integer(minimum: 300), required: true, default: 3600, help: "TTL, seconds (≥ 300)"),
                ParamSpec(
                    "resource_records",
                    .list(.text, wrap: "value"),
                    required: true,
                    help: "The record's values, e.g. 1.1.1.1"
                ),
            ],
            call: "POST",
            "/domains/{domain_id}/dns-records",
            targets: [.resource(prefix: "dns", param: "domain_id")],
            settle: .attention(
                "the daemon does not read DNS records back, and creating the record again could duplicate it: check "
                    + "the domain's DNS in MyKinsta, then retry the job or leave it"
            ),
            deadline: Timing.toolDeadline,
            typical: Timing.tool,
            subject: "name"
        ),
        JobKindSpec(
            "dns_record.update",
            "Change the values of a DNS record",
            parameters: [dnsDomainID] + dnsRecordName + [
                ParamSpec("ttl", .integer(minimum: 300), help: "TTL, seconds (≥ 300)"),
                ParamSpec("new_resource_records", .list(.text, wrap: "value"), help: "Values to add"),
                ParamSpec("removed_resource_records", .list(.text, wrap: "value"), help: "Values to remove"),
            ],
            call: "PUT",
            "/domains/{domain_id}/dns-records",
            targets: [.resource(prefix: "dns", param: "domain_id")],
            // Adding a value a record holds, or removing one it lacks, leaves the record as it is.
            settle: .resend,
            deadline: Timing.toolDeadline,
            typical: Timing.tool,
            subject: "name"
        ),
        JobKindSpec(
            "dns_record.delete",
            "Delete a DNS record",
            parameters: [dnsDomainID] + dnsRecordName,
            call: "DELETE",
            "/domains/{domain_id}/dns-records",
            targets: [.resource(prefix: "dns", param: "domain_id")],
            settle: .resend,
            deadline: Timing.toolDeadline,
            typical: Timing.tool,
            subject: "name"
        ),
    ]

    private static let dnsDomainID = ParamSpec(
        "domain_id",
        .uuid,
        required: true,
        help: "The Kinsta DNS domain (a UUID)"
    )
    private static let dnsRecordName = [
        ParamSpec(
            "type",
            .oneOf(["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS"]),
            required: true,
            help: "Record type"
        ),
        ParamSpec("name", .text, required: true, help: "Record name, e.g. shop.example.com"),
    ]
}
