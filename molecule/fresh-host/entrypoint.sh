#!/bin/sh
# PID 1 of the fresh-host "VM" container (no systemd, like a VM's minimal init).
# - Docker in Docker without --privileged: the cgroup hierarchies are mounted read-only in a
#   container; a bind remount makes them writable for the dockerd the docker role installs.
# - The controller's public key arrives in $AUTHORIZED_KEY; sshd then runs in the foreground.
set -eu
for d in /sys/fs/cgroup /sys/fs/cgroup/*; do
  if mountpoint -q "$d"; then
    mount -o remount,rw,bind "$d" 2>/dev/null || mount -o remount,rw "$d" 2>/dev/null || true
  fi
done
umask 077
printf '%s\n' "${AUTHORIZED_KEY:?AUTHORIZED_KEY (an ssh public key) is required}" > /root/.ssh/authorized_keys
ssh-keygen -A >/dev/null
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no \
  -o AllowTcpForwarding=yes -o UsePAM=no
