# The part of trio-jsonrpc 0.4 tgo-host uses (wire/transport.py implements BaseTransport).
from abc import ABC, abstractmethod

class BaseTransport(ABC):
    @abstractmethod
    async def recv(self) -> bytes: ...
    @abstractmethod
    async def send(self, data: bytes) -> None: ...

class TransportClosed(Exception): ...
