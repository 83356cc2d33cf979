"""Imports every domain's models so SQLAlchemy and Alembic see the whole schema."""

from portal.accounts.models import ApiKeyStatus, Role, User, UserApiKey, UserProfile, UserSession
from portal.analytics.models import UsageAnalytics
from portal.apps.models import (
    AppLike,
    AppMetrics,
    AppType,
    AppVersion,
    AppVisibility,
    Documentation,
    LicenseType,
    QuantumApp,
    SDKType,
    Tag,
    VersionStatus,
    app_tags,
)
from portal.billing.models import BillingItem, PaymentEvent, UserBill
from portal.execution.models import (
    Hardware,
    HardwarePlatform,
    HardwareStatus,
    HardwareTechnology,
    Job,
    JobResult,
    JobRunMode,
    JobStatus,
)
from portal.marketplace.models import (
    MarketplaceListing,
    MarketplaceListingStatus,
    Review,
    Subscription,
    SubscriptionKey,
    SubscriptionStatus,
    SubscriptionType,
)
from portal.notifications.models import Notification, NotificationType
from portal.projects.models import Project, ProjectFile
from portal.webhooks.models import WebhookDelivery, WebhookSecret

__all__ = [
    "ApiKeyStatus", "AppLike", "AppMetrics", "AppType", "AppVersion", "AppVisibility",
    "BillingItem",
    "Documentation", "Hardware", "HardwarePlatform", "HardwareStatus", "HardwareTechnology",
    "Job", "JobResult", "JobRunMode", "JobStatus", "LicenseType", "MarketplaceListing",
    "MarketplaceListingStatus", "Notification", "NotificationType", "PaymentEvent", "Project",
    "ProjectFile", "QuantumApp", "Review", "Role", "SDKType", "Subscription", "SubscriptionKey",
    "SubscriptionStatus", "SubscriptionType", "Tag", "UsageAnalytics", "User", "UserApiKey",
    "UserBill", "UserProfile", "UserSession", "VersionStatus", "WebhookDelivery",
    "WebhookSecret", "app_tags",
]  # fmt: skip
