"""key cache policy route feedback

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('route_feedback',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id')
    )
    with op.batch_alter_table('route_feedback', schema=None) as batch_op:
        batch_op.create_index('ix_route_feedback_tenant_time', ['tenant_id', 'created_at'], unique=False)

    op.create_table('tenant_route_thresholds',
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'route')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cache_mode', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False, server_default='auto'))
        batch_op.add_column(sa.Column('semantic_cache', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('semantic_cache')
        batch_op.drop_column('cache_mode')

    op.drop_table('tenant_route_thresholds')
    with op.batch_alter_table('route_feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_route_feedback_tenant_time')

    op.drop_table('route_feedback')
