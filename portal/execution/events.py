"""What happens to a job, for the domains above execution (notifications, analytics,
billing, webhooks): blinker signals, connected at app creation by ``portal.subscribers``.

Every receiver runs synchronously in the sender's transaction, so its writes commit or roll
back with the job's own. A receiver may refuse by raising (``job_submitting``: the budget).
Blinker does not order the receivers of one signal, so effects whose order matters are
separate signals sent in that order (``usage_counted`` is sent last, see
``lifecycle.complete``).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the submitting user; estimate: the job's estimated cost. Raise to refuse the job.
job_submitting = _signals.signal("job-submitting")
# sender: the new QUEUED job (flushed, not committed).
job_queued = _signals.signal("job-queued")
# sender: the job, in its terminal state (COMPLETED, FAILED, CANCELLED); a worker's completion
# sends its ``lifecycle.RunningJob`` (id, user_id, name, shots, status, webhook_url), not a Job.
job_finished = _signals.signal("job-finished")
# sender: the COMPLETED job (a ``lifecycle.RunningJob``); hardware: the device it ran on (its
# name); writes: a list to which a receiver appends (sql, params), an INSERT the completion
# runs in its own statement (one round trip), its parameters prefixed with the receiver's
# name (the notification: ``n_``).
job_completed = _signals.signal("job-completed")
# sender: the FAILED job; reason: why.
job_failed = _signals.signal("job-failed")
# sender: the COMPLETED job (a ``lifecycle.RunningJob``); endpoint, quantum_app_id,
# compute_seconds: what to count.
usage_counted = _signals.signal("usage-counted")
