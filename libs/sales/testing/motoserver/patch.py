"""moto_server with DynamoDB transactions and SQS receives made atomic, as AWS's are.

moto 5.2.1 applies TransactWriteItems one operation at a time and, when one
fails, rolls back by putting back deep copies of whole tables taken when the
transaction started. Every write another request made to those tables in
the meantime is lost (measured: 35 of 150 acknowledged PutItems lost beside
60 cancelled transactions; see isolation_test.go), stream iterators keep
pointing into the replaced tables, and the copy makes every transaction cost
time proportional to the table and its stream.

This launcher changes only that: DynamoDB item reads and writes are
serialised by one lock, and TransactWriteItems checks every condition
before it writes anything (AWS's all-or-nothing semantics), so a cancelled
transaction writes nothing and there is nothing to roll back. Arguments
are moto_server's own (-H, -p).
"""
import copy
import functools
import sys
import threading

import moto.dynamodb.models as ddb
from moto.dynamodb.models.dynamo_type import DynamoType

LOCK = threading.RLock()


def serialised(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with LOCK:
            return fn(*args, **kwargs)

    return wrapper


def _locked(lock, fn, *args, **kwargs):
    with lock:
        return fn(*args, **kwargs)


def transact_write_items(self, transact_items):
    if len(transact_items) > 100:
        raise ddb.TooManyTransactionsException()
    with LOCK:
        seen = set()
        plan = []  # (op_type, op, table, key)
        errors = []
        for item in transact_items:
            if len(item) > 1:
                raise ddb.TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table = self.get_table(op["TableName"])
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            unique = (table.name, str(dict(sorted(key.items()))))
            if unique in seen:
                raise ddb.MultipleTransactionsException()
            seen.add(unique)
            current = self.get_item(op["TableName"], key)
            original = None
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = ddb.get_filter_expression(
                    condition,
                    op.get("ExpressionAttributeNames"),
                    op.get("ExpressionAttributeValues"),
                )
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original = current.to_json()["Attributes"]
                    errors.append(("ConditionalCheckFailed", "The conditional request failed", original))
                    continue
            errors.append((None, None, None))
            plan.append((op_type, op, table, key))
        if any(code is not None for code, _, _ in errors):
            raise ddb.TransactionCanceledException(errors)

        # Every condition holds: apply. A failure here (an invalid update
        # expression) restores the touched items in place.
        saved = []
        for _, _, table, key in plan:
            h = DynamoType(key[table.hash_key_attr])
            saved.append((table, h, copy.deepcopy(table.items.get(h)),
                          len(table.stream_shard.items) if table.stream_shard else 0))
        try:
            for op_type, op, table, key in plan:
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(op["TableName"], op["Item"], expression_attribute_names=names,
                                  expression_attribute_values=values)
                elif op_type == "Delete":
                    self.delete_item(op["TableName"], key, expression_attribute_names=names,
                                     expression_attribute_values=values)
                elif op_type == "Update":
                    self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"],
                                     expression_attribute_names=names, expression_attribute_values=values)
        except Exception as e:
            for table, h, old, records in reversed(saved):
                if old is None:
                    table.items.pop(h, None)
                else:
                    table.items[h] = old
                if table.stream_shard is not None:
                    del table.stream_shard.items[records:]
            raise ddb.TransactionCanceledException([(type(e).__name__, str(e), None)])


for name in ("put_item", "get_item", "query", "scan", "update_item", "delete_item",
             "batch_get_item", "batch_write_item", "transact_get_items",
             "execute_statement", "execute_transaction", "batch_execute_statement"):
    if hasattr(ddb.DynamoDBBackend, name):
        setattr(ddb.DynamoDBBackend, name, serialised(getattr(ddb.DynamoDBBackend, name)))
ddb.DynamoDBBackend.transact_write_items = transact_write_items

try:
    import moto.dynamodbstreams.models as streams

    for name in ("get_shard_iterator", "get_records"):
        setattr(streams.DynamoDBStreamsBackend, name,
                serialised(getattr(streams.DynamoDBStreamsBackend, name)))
except ImportError:
    pass

# SQS: moto's ReceiveMessage takes no lock, so two concurrent receivers can
# be handed the same message (and one of them a receipt handle that no
# longer deletes it). Each receive pass, send, delete and visibility change
# runs under one lock; long-poll waits happen outside it.
import time

import moto.sqs.models as sqs

SQS_LOCK = threading.RLock()
_receive = sqs.SQSBackend.receive_message


def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                    message_attribute_names=None):
    end = time.time() + (wait_seconds_timeout or 0)
    while True:
        with SQS_LOCK:
            result = _receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
        remaining = end - time.time()
        if result or remaining <= 0:
            return result
        self.get_queue(queue_name).wait_for_messages(min(1.0, remaining))


sqs.SQSBackend.receive_message = receive_message
for name in ("send_message", "send_message_batch", "delete_message", "delete_message_batch",
             "change_message_visibility", "change_message_visibility_batch", "purge_queue"):
    if hasattr(sqs.SQSBackend, name):
        with_lock = functools.wraps(getattr(sqs.SQSBackend, name))(
            (lambda fn: lambda *a, **k: _locked(SQS_LOCK, fn, *a, **k))(getattr(sqs.SQSBackend, name)))
        setattr(sqs.SQSBackend, name, with_lock)

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
