"""The anchor: a plain LangServe app serving the same summarize chain, no platform features.

BENCH_UPSTREAM=http://127.0.0.1:9100/v1 uvicorn bench.plain_langserve:app
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI
from langserve import add_routes

prompt = ChatPromptTemplate.from_messages(
    [
        ("system", "You write faithful, concise summaries. Write the summary as one paragraph."),
        ("human", "Summarize this text:\n\n{text}"),
    ]
)
model = ChatOpenAI(
    model="mock", base_url=os.environ["BENCH_UPSTREAM"], api_key="unused", max_tokens=256
)
app = FastAPI(title="plain LangServe")
add_routes(app, prompt | model | StrOutputParser(), path="/summarize")
