#!/bin/bash
# Batch script of a jupyter-jobs job, rendered with Jinja2 by jupyter_jobs.spawners.slurm_script.
# Replace it with c.SlurmSpawner.batch_script (same variables as batchspawner's SlurmSpawner):
#   job_name, job_dir, output, req_nprocs, req_memory, req_runtime, req_ngpus, req_gpu_option,
#   req_partition, req_account, req_qos, req_options (list of "--opt=value"), req_prologue,
#   req_epilogue, req_username, cmd (the runner, shell-quoted).
# --job-name, --output, --error and --chdir are also given to sbatch on its command line.
#SBATCH --job-name={{ job_name }}
#SBATCH --ntasks=1
{% if req_nprocs %}#SBATCH --cpus-per-task={{ req_nprocs }}
{% endif %}{% if req_memory %}#SBATCH --mem={{ req_memory }}
{% endif %}{% if req_runtime %}#SBATCH --time={{ req_runtime }}
{% endif %}{% if req_gpu_option %}#SBATCH {{ req_gpu_option }}
{% endif %}{% if req_partition %}#SBATCH --partition={{ req_partition }}
{% endif %}{% if req_account %}#SBATCH --account={{ req_account }}
{% endif %}{% if req_qos %}#SBATCH --qos={{ req_qos }}
{% endif %}{% for opt in req_options %}#SBATCH {{ opt }}
{% endfor %}
{{ req_prologue }}
{% if req_epilogue %}{{ cmd }}
jupyter_jobs_status=$?
{{ req_epilogue }}
exit $jupyter_jobs_status
{% else %}exec {{ cmd }}
{% endif %}
