extension JobCatalog {
    /// Caches, PHP, the edge and the CDN: quick, and a repeat does no harm.
    static let tools: [JobKindSpec] = [
        tool(
            "cache.clear",
            "Clear an environment's site cache",
            "POST",
            "/sites/tools/clear-cache",
            []
        ),
        tool(
            "php.restart",
            "Restart an environment's PHP engine",
            "POST",
            "/sites/tools/restart-php",
            []
        ),
        tool(
            "php.set_version",
            "Change an environment's PHP version",
            "PUT",
            "/sites/tools/modify-php-version",
            [
                ParamSpec("php_version", .text, required: true, help: "PHP version, e.g. 8.3"),
                ParamSpec(
                    "is_opt_out_from_automatic_php_update",
                    .boolean,
                    help: "Keep this version when Kinsta updates PHP"
                ),
            ]
        ),
        tool(
            "edge_cache.clear",
            "Clear an environment's edge cache",
            "POST",
            "/sites/edge-caching/clear",
            [
                ParamSpec("clear_subdirectories", .boolean, help: "Also clear below url"),
                ParamSpec("url", .text, help: "Clear only this URL"),
            ]
        ),
        tool(
            "edge_cache.set_status",
            "Turn an environment's edge cache on or off",
            "PUT",
            "/sites/edge-caching/status",
            [ParamSpec("enabled", .boolean, required: true, help: "On (true) or off (false)")]
        ),
        tool(
            "cdn_cache.clear",
            "Clear an environment's CDN cache",
            "POST",
            "/sites/cdn/clear-cache",
            [
                ParamSpec(
                    "cdn_cache_id",
                    .identifier,
                    required: true,
                    help: "The environment's CDN cache (cdn_cache_id in `kinsta-ops environments`)"
                )
            ]
        ),
        tool(
            "cdn.set_image_optimization",
            "Set an environment's CDN image optimization",
            "PUT",
            "/sites/cdn/image-optimization",
            [
                ParamSpec(
                    "image_optimization_type",
                    .oneOf(["off", "lossy", "lossless"]),
                    required: true,
                    help: "off, lossy or lossless"
                )
            ]
        ),
    ]

    /// A tool: its body names the environment `environment_id`, it occupies that environment, and a repeat is
    /// harmless.
    private static func tool(
        _ name: String,
        _ summary: String,
        _ method: String,
        _ path: String,
        _ extra: [ParamSpec]
    ) -> JobKindSpec {
        JobKindSpec(
            name,
            summary,
            parameters: [CommonParams.environmentID] + extra,
            call: method,
            path,
            targets: [.environment("environment_id")],
            settle: .resend,
            deadline: Timing.toolDeadline,
            typical: Timing.tool
        )
    }
}
