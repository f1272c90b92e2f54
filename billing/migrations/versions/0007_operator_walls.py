"""budgets and rate limits remember whether the operator set them

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('budgets', 'rate_limits'):
        op.add_column(table, sa.Column('set_by_operator', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    for table in ('budgets', 'rate_limits'):
        op.drop_column(table, 'set_by_operator')
