# Sourced by the image scripts: podman settings this kind of machine needs, in a containers.conf of our own
# (CONTAINERS_CONF), so the user's global configuration is neither needed nor changed.
# - no CAP_SYS_RESOURCE in the sandbox: podman's default rlimits are refused, so set ones we may set;
# - crun refuses the hybrid cgroup v1 layout: use runc; cgroupfs (no systemd); events to a file.
podman_conf="${XDG_CACHE_HOME:-$HOME/.cache}/modelmonitor/podman/containers.conf"
mkdir -p "$(dirname "$podman_conf")"
cat >"$podman_conf.new" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
events_logger = "file"
cgroup_manager = "cgroupfs"
CONF
mv "$podman_conf.new" "$podman_conf"
export CONTAINERS_CONF="$podman_conf"
