"""Flask extensions, created unbound here and bound to the app in the factory."""

from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_caching import Cache
from flask_migrate import Migrate
from flask_security import Security
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from cms.mail import CmsMailUtil
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


db = SQLAlchemy(model_class=Base)
if TYPE_CHECKING:  # db.Model is built at run time; type checkers see its base class
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
security = Security(mail_util_cls=CmsMailUtil, username_util_cls=CmsUsernameUtil)
babel = Babel()
csrf = CSRFProtect()
cache = Cache()
