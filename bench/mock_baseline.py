"""The baseline of `make bench`: a bare Pulumi program under the mock runtime registering one resource.

It pays what every mock run pays (interpreter start, importing pulumi and its gRPC/protobuf
stack, one registration round trip, interpreter shutdown) and nothing of this project.
"""

import asyncio

import pulumi
from pulumi.runtime import mocks


class OneResourceMocks(mocks.Mocks):
    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, object]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, object], list[tuple[str, str]] | None]:
        raise NotImplementedError(args.token)


def main() -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks.set_mocks(OneResourceMocks(), project="baseline", stack="bench", preview=False)
    resource = pulumi.CustomResource("bench:index:Thing", "one", {"size": 1})
    urn = loop.run_until_complete(resource.urn.future())
    loop.close()
    print(urn)


if __name__ == "__main__":
    main()
