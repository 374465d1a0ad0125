"""The swarm policy pack: `pulumi preview --policy-pack policy` enforces these rules."""

from pulumi_policy import EnforcementLevel, PolicyPack, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

import rules


def _report_all(violations, report_violation: ReportViolation) -> None:
    for message in violations:
        report_violation(message, None)


def _admin_ports(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    _report_all(rules.admin_ports_closed_to_world(args.resource_type, args.props), report_violation)


def _storage_class(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    _report_all(rules.storage_class_retains_volumes(args.resource_type, args.props), report_violation)


def _privileged(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    _report_all(rules.no_privileged_pods(args.resource_type, args.props), report_violation)


def _protected(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    _report_all(rules.control_plane_protected(args.resource_type, args.props, args.urn, bool(args.opts.protect)), report_violation)


PolicyPack(
    name="swarm",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name="admin-ports-closed-to-world",
            description="No firewall opens SSH (22) or the Kubernetes API (6443) to the whole internet.",
            validate=_admin_ports,
        ),
        ResourceValidationPolicy(
            name="storage-class-retains-volumes",
            description="Storage classes keep their volumes when the claims go.",
            validate=_storage_class,
        ),
        ResourceValidationPolicy(
            name="no-privileged-pods",
            description="No privileged containers and no host namespaces.",
            validate=_privileged,
        ),
        ResourceValidationPolicy(
            name="control-plane-protected",
            description="Outside dev, the control plane is protected from deletion.",
            validate=_protected,
        ),
    ],
)
