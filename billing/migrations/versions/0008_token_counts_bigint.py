"""token counts are 64-bit: an upstream may report more tokens than a 32-bit column holds

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = {
    'usage_records': ('prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_write_tokens', 'reasoning_tokens'),
    'batch_lines': ('prompt_tokens', 'completion_tokens'),
}


def _retype(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> None:
    for table, columns in COLUMNS.items():
        if op.get_bind().dialect.name == 'postgresql':
            # One statement per table: PostgreSQL rewrites the table once, not once per column.
            changes = ', '.join(f'ALTER COLUMN {column} TYPE {new.compile(dialect=op.get_bind().dialect)}' for column in columns)
            op.execute(f'ALTER TABLE {table} {changes}')
            continue
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, existing_type=old, type_=new, existing_nullable=False)


def upgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())


def downgrade() -> None:
    _retype(sa.BigInteger(), sa.Integer())
