"""dd-assessment: a working Datadog demo environment on AWS, in one `pulumi up`."""

import pulumi

from components import design
from components.agent import DatadogAgent, DatadogAgentArgs, agent_image
from components.app import FlaskApp, FlaskAppArgs, base_image
from components.dashboard import Dashboard, DashboardArgs
from components.datadog_provider import datadog_provider
from components.downtimes import Downtimes, DowntimesArgs, QuietHours
from components.host import Host, HostArgs, docker_platform_of, latest_amazon_linux_2023
from components.monitor import MetricMonitor, MonitorArgs
from components.network import Network, NetworkArgs, zone_offering
from components.remote_docker import RemoteDocker, RemoteDockerArgs
from components.service_dashboard import ServiceDashboard, ServiceDashboardArgs
from components.settings import load_settings
from components.traffic import DemoTraffic, DemoTrafficArgs

# The APM service; the app's container is named after it (components/app.py).
APP_SERVICE = "my-flask-app"

# 1. Settings: every key checked before anything is declared.
settings = load_settings()

# 2. The hosts: a network of their own, then one host per `hostCount`.
network = Network(settings.name_prefix, NetworkArgs(
    vpc_cidr=design.VPC_CIDR, subnet_cidr=design.SUBNET_CIDR,
    availability_zone=zone_offering(settings.instance_type), host_access=settings.host_access,
    ssh_allowed_cidrs=settings.ssh_allowed_cidrs, app_allowed_cidrs=settings.app_allowed_cidrs,
    app_port=design.APP_PORT, tags=settings.tags))

ami_id = settings.ami_id or latest_amazon_linux_2023(settings.instance_type)
hosts = [
    Host(host_name, HostArgs(
        host_name=host_name, instance_type=settings.instance_type, ami_id=ami_id,
        ignore_ami_changes=settings.ami_id is None,
        subnet_id=network.subnet_id, security_group_id=network.security_group_id,
        ssh_public_key=settings.ssh_public_key, region=settings.region,
        parameter_prefix=settings.parameter_prefix, agent_network_cidr=design.AGENT_NETWORK_CIDR,
        agent_image=agent_image(settings.agent_version), app_base_image=base_image(),
        tags=settings.tags))
    for host_name in settings.host_names
]

# 3. On each host, over SSH (through Session Manager by default): its Docker daemon, the Datadog
#    Agent, the instrumented app and the demo traffic that keeps APM busy (unless `demoTraffic`
#    is 0).
docker_hosts = []
for host in hosts:
    docker_host = RemoteDocker(host.host_name, RemoteDockerArgs(
        host_access=settings.host_access, instance_id=host.instance_id, public_ip=host.public_ip,
        region=settings.region, ssh_private_key_path=settings.ssh_private_key_path,
        network_name=design.AGENT_NETWORK_NAME, network_cidr=design.AGENT_NETWORK_CIDR,
        network_gateway=design.AGENT_NETWORK_GATEWAY))
    docker_hosts.append(docker_host)
    DatadogAgent(f"{host.host_name}-agent", DatadogAgentArgs(
        docker_host=docker_host, container_name=design.AGENT_CONTAINER_NAME,
        version=settings.agent_version, api_key=settings.datadog_api_key,
        site=settings.datadog_site, host_name=host.host_name, host_tags=settings.host_tags,
        env=settings.env,
        check_interval_seconds=settings.check_interval_seconds,
        database_password=host.database_password))
    app = FlaskApp(f"{host.host_name}-app", FlaskAppArgs(
        docker_host=docker_host, agent_host=design.AGENT_CONTAINER_NAME, service=APP_SERVICE,
        env=settings.env, platform=docker_platform_of(settings.instance_type),
        published_port=design.APP_PORT))
    if settings.demo_traffic:
        DemoTraffic(f"{host.host_name}-traffic", DemoTrafficArgs(
            docker_host=docker_host, image=app.image_id, app_url=app.internal_url,
            container_name=f"{APP_SERVICE}-traffic",
            requests_per_minute=settings.demo_traffic, app_container=app.container))

# 4. In Datadog: the timeboard, the service-and-host dashboard, the my_metric monitor and its
#    quiet hours.
in_datadog = pulumi.ResourceOptions(providers=[datadog_provider(
    "datadog", api_key=settings.datadog_api_key, app_key=settings.datadog_app_key,
    site=settings.datadog_site, api_url_override=settings.datadog_api_url)])
dashboard = Dashboard(settings.name_prefix, DashboardArgs(
    title=f"{settings.project} ({settings.stack}): my_metric and PostgreSQL",
    host_names=settings.host_names, site=settings.datadog_site), opts=in_datadog)
service_dashboard = ServiceDashboard(f"{settings.name_prefix}-service", ServiceDashboardArgs(
    title=f"{settings.project} ({settings.stack}): service {APP_SERVICE} and its hosts",
    host_names=settings.host_names, env=settings.env, service=APP_SERVICE,
    agent_container=design.AGENT_CONTAINER_NAME, app_container=APP_SERVICE,
    site=settings.datadog_site), opts=in_datadog)
monitor = MetricMonitor(f"{settings.name_prefix}-my-metric", MonitorArgs(
    name=f"[{settings.name_prefix}] my_metric is high on {{{{host.name}}}}",
    notify_handles=settings.notify_handles, warning_threshold=settings.warning_threshold,
    critical_threshold=settings.critical_threshold, no_data_minutes=settings.no_data_minutes,
    tags=(f"project:{settings.project}", f"stack:{settings.stack}")), opts=in_datadog)
quiet_hours = Downtimes(f"{settings.name_prefix}-quiet-hours", DowntimesArgs(
    monitor_id=monitor.monitor_id,
    quiet_hours=QuietHours(timezone=settings.timezone, evening=settings.quiet_hours.start,
                           morning=settings.quiet_hours.end),
    notify_handles=settings.notify_handles), opts=in_datadog)

# 5. What a user needs next: where the hosts are, how to reach them, where to look.
pulumi.export("hostNames", [host.host_name for host in hosts])
pulumi.export("publicIps", [host.public_ip for host in hosts])
pulumi.export("instanceIds", [host.instance_id for host in hosts])
pulumi.export("sshHostKeys", [docker_host.host_key for docker_host in docker_hosts])
pulumi.export("sshCommands", [docker_host.ssh_command for docker_host in docker_hosts])
pulumi.export("appUrls", [host.public_ip.apply(lambda ip: f"http://{ip}/") for host in hosts])
pulumi.export("dashboardUrl", dashboard.url)
pulumi.export("dashboardId", dashboard.dashboard_id)
pulumi.export("serviceDashboardUrl", service_dashboard.url)
pulumi.export("serviceDashboardId", service_dashboard.dashboard_id)
pulumi.export("monitorId", monitor.monitor_id)

# 6. What `make verify` and `make snapshot` (ops/) check the live org against.
pulumi.export("downtimeIds", {"weeknights": quiet_hours.weeknights.id, "weekend": quiet_hours.weekend.id})
pulumi.export("launchTimes", {host.host_name: host.launch_time for host in hosts})
pulumi.export("service", APP_SERVICE)
pulumi.export("env", settings.env)
pulumi.export("datadogSite", settings.datadog_site)
pulumi.export("hostTags", list(settings.host_tags))
pulumi.export("checkIntervalSeconds", settings.check_interval_seconds)
pulumi.export("monitorOptions", {"warningThreshold": settings.warning_threshold,
                                 "criticalThreshold": settings.critical_threshold,
                                 "noDataMinutes": settings.no_data_minutes})
pulumi.export("timezone", settings.timezone)
pulumi.export("notifyHandles", list(settings.notify_handles))
