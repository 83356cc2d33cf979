"""What happens to a job, for the domains above execution (notifications, analytics,
billing, webhooks): blinker signals, connected at app creation by ``portal.subscribers``.

Every receiver runs synchronously in the sender's transaction, so its writes commit or roll
back with the job's own. A receiver may refuse by raising (``job_submitting``: the budget).
Blinker does not order the receivers of one signal, so effects whose order matters are
separate signals sent in that order.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the submitting user; estimate: the job's estimated cost. Raise to refuse the job.
job_submitting = _signals.signal("job-submitting")
# sender: the new QUEUED job (flushed, not committed).
job_queued = _signals.signal("job-queued")
# A worker's completion (``lifecycle.complete``) is one statement: its signals carry
# ``writes``, a list to which a receiver appends (sql, params), an INSERT whose row comes
# ``FROM done`` (the job's row when it was still RUNNING, else none), its parameters prefixed
# with the receiver's name (the notification ``n_``, the usage ``u_``, the webhook ``w_``).
# Work for after the commit goes through ``uow.after_commit``, as in any transaction.

# sender: the job, in its terminal state (COMPLETED, FAILED, CANCELLED); a worker's completion
# sends its ``lifecycle.RunningJob`` (id, user_id, name, shots, status, webhook_url, owner),
# not a Job, with ``writes``.
job_finished = _signals.signal("job-finished")
# sender: the COMPLETED job (a ``lifecycle.RunningJob``); hardware: the device it ran on (its
# name); writes (above).
job_completed = _signals.signal("job-completed")
# sender: the FAILED job; reason: why.
job_failed = _signals.signal("job-failed")
# sender: the COMPLETED job (a ``lifecycle.RunningJob``); endpoint, quantum_app_id,
# compute_seconds: what to count; writes (above).
usage_counted = _signals.signal("usage-counted")
