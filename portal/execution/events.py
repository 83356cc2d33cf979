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
# sender: the job, in its terminal state (COMPLETED, FAILED, CANCELLED).
job_finished = _signals.signal("job-finished")
# sender: the COMPLETED job; hardware: the device it ran on.
job_completed = _signals.signal("job-completed")
# sender: the FAILED job; reason: why.
job_failed = _signals.signal("job-failed")
# sender: the COMPLETED job; endpoint, quantum_app_id, compute_seconds: what to count.
usage_counted = _signals.signal("usage-counted")
