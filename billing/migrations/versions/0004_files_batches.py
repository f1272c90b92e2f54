"""files and batches

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('batch_chunks',
    sa.Column('batch_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('chunk_no', sa.Integer(), nullable=False),
    sa.Column('first_line', sa.Integer(), nullable=False),
    sa.Column('end_line', sa.Integer(), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('holds', sa.JSON(), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('lease_until_ms', sa.BigInteger(), nullable=False),
    sa.Column('dispatched_at_ms', sa.BigInteger(), nullable=True),
    sa.Column('dispatches', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('batch_id', 'chunk_no')
    )
    op.create_table('batch_lines',
    sa.Column('batch_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('custom_id', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('cost_nanos', sa.BigInteger(), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('finished_at_ms', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('batch_id', 'line_no'),
    sa.UniqueConstraint('batch_id', 'custom_id', name='uq_batch_line_custom_id')
    )
    with op.batch_alter_table('batch_lines', schema=None) as batch_op:
        batch_op.create_index('ix_batch_lines_state', ['batch_id', 'state'], unique=False)

    op.create_table('batches',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('endpoint', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('input_file_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('completion_window', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('principal', sa.JSON(), nullable=False),
    sa.Column('metadata_json', sa.JSON(), nullable=True),
    sa.Column('errors', sa.JSON(), nullable=True),
    sa.Column('output_file_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('error_file_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('chunk_size', sa.Integer(), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('cost_nanos', sa.BigInteger(), nullable=False),
    sa.Column('prompt_tokens', sa.BigInteger(), nullable=False),
    sa.Column('completion_tokens', sa.BigInteger(), nullable=False),
    sa.Column('worst_case_nanos', sa.BigInteger(), nullable=False),
    sa.Column('budget_hold', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('in_progress_at', sa.BigInteger(), nullable=True),
    sa.Column('expires_at', sa.BigInteger(), nullable=True),
    sa.Column('finalizing_at', sa.BigInteger(), nullable=True),
    sa.Column('completed_at', sa.BigInteger(), nullable=True),
    sa.Column('failed_at', sa.BigInteger(), nullable=True),
    sa.Column('expired_at', sa.BigInteger(), nullable=True),
    sa.Column('cancelling_at', sa.BigInteger(), nullable=True),
    sa.Column('cancelled_at', sa.BigInteger(), nullable=True),
    sa.Column('lease_owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('lease_until_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.create_index('ix_batches_status', ['status'], unique=False)
        batch_op.create_index('ix_batches_tenant_created', ['tenant_id', 'created_at', 'id'], unique=False)

    op.create_table('file_blobs',
    sa.Column('file_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('file_id')
    )
    op.create_table('files',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.create_index('ix_files_tenant_created', ['tenant_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.drop_index('ix_files_tenant_created')

    op.drop_table('files')
    op.drop_table('file_blobs')
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_index('ix_batches_tenant_created')
        batch_op.drop_index('ix_batches_status')

    op.drop_table('batches')
    with op.batch_alter_table('batch_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_batch_lines_state')

    op.drop_table('batch_lines')
    op.drop_table('batch_chunks')
