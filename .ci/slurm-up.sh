#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this machine, for the sweep test that
# submits a real job array (sweep/slurm_test.go): Debian's slurm-wlm and
# munge, slurmctld and slurmd both on this host, one partition holding this
# node with every CPU and the memory slurmd reports. Run as root; running it
# again restarts the daemons with a fresh config (idempotent).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
	apt-get update
	apt-get install -y slurm-wlm munge
fi

host=$(hostname -s)
# "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2
# ThreadsPerCore=1 RealMemory=24105": this machine as slurmd sees it.
node=$(slurmd -C | head -n 1)
node=${node/NodeName=* CPUs/NodeName=$host CPUs}

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat >/etc/slurm/slurm.conf <<EOF
ClusterName=seqtask
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
# No cgroups in a container: track a job's processes by parentage.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
# Seconds between SIGTERM and SIGKILL when a job ends early (scancel,
# preemption, requeue): time for the runner to save its checkpoint.
KillWait=30
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

# Restart whatever an earlier run of this script left.
for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
	if [[ -s $pidfile ]]; then
		kill "$(cat "$pidfile")" 2>/dev/null || true
	fi
done
sleep 1

install -d -o munge -g munge -m 0755 /run/munge
runuser -u munge -- munged
slurmctld -i
slurmd

# Wait until the node takes jobs.
for _ in $(seq 60); do
	if sinfo -h -N -o '%T' 2>/dev/null | grep -q -E '^(idle|mixed|allocated)'; then
		sinfo
		exit 0
	fi
	sleep 1
done
echo "slurm-up: the node did not become idle; the logs:" >&2
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2
exit 1
