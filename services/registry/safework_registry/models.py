"""Every registry model, imported in one place so Alembic sees the whole schema."""

from safework_registry.accommodations.models import Accommodation, AccommodationManager
from safework_registry.audit.models import AuditLog
from safework_registry.db import Base
from safework_registry.declarations.models import HealthDeclaration, Travel
from safework_registry.districts.models import DistrictRatio
from safework_registry.enterprises.models import Enterprise
from safework_registry.events.models import OutboxEvent
from safework_registry.idempotency.models import IdempotencyRecord
from safework_registry.installations.models import AppInstallation
from safework_registry.isolation.models import IsolationAssignment, IsolationFacility, IsolationRoom
from safework_registry.labs.models import Lab
from safework_registry.outbreak.models import Contact, OutbreakCase
from safework_registry.persons.models import Person
from safework_registry.results.models import Pool, PoolMember, TestResult, TestResultSample
from safework_registry.rollup.models import PersonRollup
from safework_registry.vaccines.models import Dose, VaccineProduct
from safework_registry.venues.models import CheckIn, Venue

metadata = Base.metadata

__all__ = [
    "Accommodation",
    "AccommodationManager",
    "AppInstallation",
    "AuditLog",
    "Base",
    "CheckIn",
    "Contact",
    "DistrictRatio",
    "Dose",
    "Enterprise",
    "HealthDeclaration",
    "IdempotencyRecord",
    "IsolationAssignment",
    "IsolationFacility",
    "IsolationRoom",
    "Lab",
    "OutboxEvent",
    "OutbreakCase",
    "Person",
    "PersonRollup",
    "Pool",
    "PoolMember",
    "TestResult",
    "TestResultSample",
    "Travel",
    "VaccineProduct",
    "Venue",
    "metadata",
]
