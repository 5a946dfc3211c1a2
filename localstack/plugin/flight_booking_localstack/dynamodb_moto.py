"""DynamoDB served by moto inside LocalStack (PROVIDER_OVERRIDE_DYNAMODB=moto).

Stock LocalStack forwards every DynamoDB call to DynamoDB Local, a Java program it downloads at run
time. Offline that download fails, so this provider implements no operation itself: every call
falls through (NotImplementedError in the generated API base class) to moto's DynamoDB, which
LocalStack already ships as its `moto-ext` dependency. Tables live in memory for the life of the
LocalStack process; the CloudFormation resource provider for AWS::DynamoDB::Table is unchanged.
"""

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, aws_provider


class DynamoDBMotoProvider(DynamodbApi):
    """Every operation falls through to moto."""


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(DynamoDBMotoProvider(), dispatch_table_factory=MotoFallbackDispatcher)
