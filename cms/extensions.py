"""Flask extensions, created unbound here and bound to the app in the factory; Flask-Security's is made per app
(`new_security`), since it keeps the app's state on itself."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, cast

from flask import current_app, g, has_app_context
from flask_caching import Cache
from flask_migrate import Migrate
from flask_security import Security
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase
from werkzeug.local import LocalProxy

from cms.locale import RequestBabel
from cms.mail import CmsMailUtil
from cms.passwords import CmsPasswordUtil
from cms.two_factor_secrets import CmsRecoveryCodesUtil, CmsTotp
from cms.usernames import CmsUsernameUtil

# Named constraints keep migrations identical on SQLite and MariaDB and let Alembic alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


REPLICA = "replica"  # the bind key of the read replica's engine (CMS_DATABASE_REPLICA_URL)


class RoutingSession(Session):
    """`db.session`: reads go to the read replica while the app context asked for it (`read_from_replica`) and
    this session has written nothing; writes, and every read after the first write, go to the primary."""

    wrote = False

    def reads_replica(self) -> bool:
        """Whether a read now goes to the replica: the one answer get_bind and `reads_replica()` share."""
        return not self.wrote and has_app_context() and bool(g.get("cms_read_replica")) and REPLICA in self._db.engines

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and not self.wrote:
            if self._flushing or getattr(clause, "is_dml", False):
                self.wrote = True
            elif self.reads_replica():
                return self._db.engines[REPLICA]
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def read_from_replica() -> None:
    """This app context's `db.session` reads through the replica when one is configured (anonymous readers)."""
    g.cms_read_replica = True


@contextmanager
def primary_reads() -> Iterator[None]:
    """Reads inside go to the primary whatever this app context asked: what each request checks against this
    process's own state (the catalogs' revision), which a lagging replica would turn back and forth."""
    asked = g.get("cms_read_replica")
    g.cms_read_replica = False
    try:
        yield
    finally:
        g.cms_read_replica = asked


def reads_replica() -> bool:
    """Whether this app context's next read goes to the replica (RoutingSession.get_bind's choice)."""
    return has_app_context() and cast(RoutingSession, db.session()).reads_replica()


def replica_engine():
    """The read replica's engine, or None when CMS_DATABASE_REPLICA_URL is unset."""
    return db.engines.get(REPLICA)


db = SQLAlchemy(model_class=Base, session_options={"class_": RoutingSession})
if TYPE_CHECKING:  # db.Model is built at run time; type checkers see its base class
    Model = Base
else:
    Model = db.Model
migrate = Migrate()


def new_security() -> Security:
    """A Security object for one app. Flask-Security keeps an app's state on this object (its datastore, its
    authenticator checker built from that app's SECURITY_TOTP_SECRETS, its token serializers), so one object shared
    by several apps (tests, the benchmarks) holds whichever app's was initialised last, and a second factor stored
    through one app's checker could not be read by another process of the same app."""
    return Security(
        mail_util_cls=CmsMailUtil,
        username_util_cls=CmsUsernameUtil,
        password_util_cls=CmsPasswordUtil,
        totp_cls=CmsTotp,
        mf_recovery_codes_util_cls=CmsRecoveryCodesUtil,
    )


# The current app's Security object (what Flask-Security's own views use), for the code that needs its datastore,
# its utilities or its authenticator checker.
security = cast(Security, LocalProxy(lambda: current_app.extensions["security"]))
babel = RequestBabel()
csrf = CSRFProtect()
cache = Cache()
