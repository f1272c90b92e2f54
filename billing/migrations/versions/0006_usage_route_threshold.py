"""usage rows keep the route threshold

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('usage_records', sa.Column('route_threshold', sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column('usage_records', 'route_threshold')
